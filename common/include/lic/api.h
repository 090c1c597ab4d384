/* api.h - export macro for liblic (built with -fvisibility=hidden). */
#ifndef LIC_API_H
#define LIC_API_H
#define LIC_API __attribute__((visibility("default")))
#endif
