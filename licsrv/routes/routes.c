/* routes.c - the route table: which handler answers which method and path on
 * which listener. A new endpoint is one handler in its group's file and one
 * line here. */
#include <stddef.h>

#include "lic/receipt.h"
#include "routes/routes.h"

typedef struct {
  srv_listener lis;
  const char *method;
  const char *path;
  srv_handler fn;
} route_entry;

static const route_entry ROUTES[] = {
    {SRV_PUBLIC, "POST", "/v1/verify", route_verify},
    {SRV_PUBLIC, "POST", LIC_CLAIM_PATH, route_activation_claim},
    {SRV_PUBLIC, "POST", "/v1/register", route_register},
    {SRV_PUBLIC, "POST", "/v1/unregister", route_unregister},
    {SRV_PUBLIC, "GET", "/v1/revocations", route_revocations},
    {SRV_ADMIN, "POST", "/v1/admin/licenses", route_admin_import},
    {SRV_ADMIN, "GET", "/v1/admin/licenses", route_admin_list},
    {SRV_ADMIN, "POST", "/v1/admin/licenses/show", route_admin_show},
    {SRV_ADMIN, "POST", "/v1/admin/licenses/revoke", route_admin_revoke},
    {SRV_ADMIN, "GET", "/v1/admin/nodes", route_admin_nodes},
    {SRV_ADMIN, "POST", "/v1/admin/nodes/release", route_admin_release},
    {SRV_ADMIN, "GET", "/v1/admin/failures", route_admin_failures},
    {SRV_ADMIN, "GET", "/v1/admin/audit", route_admin_audit},
    {SRV_ADMIN, "GET", "/v1/admin/activations", route_activation_list},
    {SRV_ADMIN, "POST", "/v1/admin/accounts", route_admin_account_import},
    {SRV_ADMIN, "GET", "/v1/admin/accounts", route_admin_account_list},
    {SRV_ADMIN, "POST", "/v1/admin/accounts/show", route_admin_account_show},
    {SRV_ADMIN, "POST", "/v1/admin/accounts/revoke", route_admin_account_revoke},
    {SRV_ADMIN, "POST", "/v1/admin/accounts/delete", route_admin_account_delete},
    {SRV_ADMIN, "POST", "/v1/admin/accounts/registrations", route_admin_registrations},
    {SRV_ADMIN, "POST", "/v1/admin/accounts/release", route_admin_registration_release},
    {SRV_ADMIN, "POST", "/v1/admin/certificates", route_admin_cert_import},
    {SRV_ADMIN, "GET", "/v1/admin/certificates", route_admin_cert_list},
    {SRV_ADMIN, "POST", "/v1/admin/activations/release", route_activation_release},
    {SRV_ADMIN, "GET", "/v1/admin/server", route_admin_server},
    {SRV_ADMIN, "GET", "/", route_status_page},
    {SRV_ADMIN, "GET", "/status.css", route_status_page},
    {SRV_ADMIN, "GET", "/status.js", route_status_page},
    {SRV_ADMIN, "GET", "/favicon.ico", route_status_page},
};

int routes_install(srv_server *s) {
  for (size_t i = 0; i < sizeof ROUTES / sizeof ROUTES[0]; i++) {
    const route_entry *e = &ROUTES[i];
    int rc = e->lis == SRV_ADMIN ? srv_admin_route_add(s, e->method, e->path, e->fn)
                                 : srv_route_add(s, e->method, e->path, e->fn);
    if (rc != 0)
      return -1;
  }
  return 0;
}
