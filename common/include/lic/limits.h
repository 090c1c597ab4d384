/* limits.h - ceilings of the formats (SPEC §3): every list and string is bounded. */
#ifndef LIC_LIMITS_H
#define LIC_LIMITS_H

#define LIC_MAX_NAME    128  /* customer, project, product, feature, app, version */
#define LIC_MAX_DOMAIN  253
#define LIC_MAX_LIST    256  /* entries in any list */
#define LIC_MAX_MODE    8

#endif
