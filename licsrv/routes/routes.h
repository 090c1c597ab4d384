/* routes.h - every endpoint of licsrv, installed from one table
 * (routes.c) by the composition root. */
#ifndef LICSRV_ROUTES_H
#define LICSRV_ROUTES_H

#include "http/server.h"

/* Add every route of the table to s (before srv_server_start). 0, or -1. */
int routes_install(srv_server *s);

/* The handlers, one file per endpoint group. */
void route_verify(srv_req *r);            /* verify.c */
void route_revocations(srv_req *r);       /* revocations.c */
void route_activation_claim(srv_req *r);  /* activation.c */
void route_activation_list(srv_req *r);
void route_activation_release(srv_req *r);
void route_admin_import(srv_req *r);      /* admin.c */
void route_admin_list(srv_req *r);
void route_admin_show(srv_req *r);
void route_admin_revoke(srv_req *r);
void route_admin_nodes(srv_req *r);
void route_admin_failures(srv_req *r);
void route_admin_release(srv_req *r);
void route_admin_audit(srv_req *r);
void route_register(srv_req *r);          /* public.c */
void route_unregister(srv_req *r);
void route_admin_account_import(srv_req *r); /* accounts.c (public mode's admin API) */
void route_admin_account_list(srv_req *r);
void route_admin_account_show(srv_req *r);
void route_admin_account_revoke(srv_req *r);
void route_admin_account_delete(srv_req *r);
void route_admin_registrations(srv_req *r);
void route_admin_registration_release(srv_req *r);
void route_admin_cert_import(srv_req *r);
void route_admin_cert_list(srv_req *r);
void route_status_page(srv_req *r);       /* status_page.c: GET / and its files */
void route_admin_server(srv_req *r);      /* status_page.c: GET /v1/admin/server */

#endif
