/* serve.h - `licsrv serve`: settings from file and flags, then the server. */
#ifndef LICSRV_SERVE_H
#define LICSRV_SERVE_H

int licsrv_cmd_serve(int argc, char **argv);

#endif
