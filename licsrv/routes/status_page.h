/* routes/status_page.h - the status page's files (status_page/), compiled
 * into licsrv by cmake/embed_files.cmake. */
#ifndef LICSRV_STATUS_PAGE_H
#define LICSRV_STATUS_PAGE_H

#include <stddef.h>

typedef struct {
  const char *name; /* file name under status_page/ */
  const unsigned char *data;
  size_t len;
} route_asset;

/* Generated: every file, then {NULL, NULL, 0}. */
extern const route_asset route_status_assets[];

#endif
