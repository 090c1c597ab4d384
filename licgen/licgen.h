/* licgen.h - the sales-ops tool's subcommands, one file each. */
#ifndef LICGEN_H
#define LICGEN_H

int licgen_keygen(int argc, char **argv);   /* keygen.c */
int licgen_sign(int argc, char **argv);     /* sign.c */
int licgen_inspect(int argc, char **argv);  /* inspect.c */
int licgen_codes(int argc, char **argv);    /* codes.c (designer activation codes) */

#endif
