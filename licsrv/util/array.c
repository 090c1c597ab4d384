/* array.c - the growing array of array.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lic/err.h"
#include "util/array.h"

int srv_array_reserve_(void *pv, size_t *cap, size_t need, size_t elem, size_t min_cap) {
  void *p, *np;
  size_t ncap;
  if (need <= *cap)
    return LIC_OK;
  ncap = *cap > 0 ? *cap : min_cap > 0 ? min_cap : 1;
  while (ncap < need) {
    if (ncap > SIZE_MAX / 2)
      return LIC_NOMEM;
    ncap *= 2;
  }
  if (elem > 0 && ncap > SIZE_MAX / elem)
    return LIC_NOMEM;
  memcpy(&p, pv, sizeof p); /* pv is a T **: every object pointer alike here */
  if ((np = realloc(p, elem > 0 ? ncap * elem : 1)) == NULL)
    return LIC_NOMEM;
  memcpy(pv, &np, sizeof np);
  *cap = ncap;
  return LIC_OK;
}
