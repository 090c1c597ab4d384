/* array.h - a growing array: room for `need` elements in a malloc'd array
 * with its capacity beside it, doubling from a first size, refusing what
 * does not fit in a size_t. The array is the caller's plain pointer:
 *
 *   if (srv_array_reserve(&s->v, &s->cap, s->n + 1, 16) != LIC_OK)
 *     return LIC_NOMEM;
 *   s->v[s->n++] = x;
 */
#ifndef LICSRV_ARRAY_H
#define LICSRV_ARRAY_H

#include <stddef.h>

/* Make *pv (of *cap elements of elem bytes) hold at least need: unchanged
 * when it does, else a capacity of min_cap (at least 1) doubled until need
 * fits. LIC_OK; LIC_NOMEM when the size overflows or realloc fails, *pv
 * and *cap left as they were (the elements kept, the array still the
 * caller's to free). pv is the address of the array pointer. */
int srv_array_reserve_(void *pv, size_t *cap, size_t need, size_t elem, size_t min_cap);

/* Typed: p is T **, the element size its pointee's. */
#define srv_array_reserve(p, cap, need, min_cap) \
  srv_array_reserve_((p), (cap), (need), sizeof **(p), (min_cap))

#endif
