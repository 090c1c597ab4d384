/* datadir.h - the files of a licsrv data directory that more than one layer
 * names (the store's own layout is store/'s business). */
#ifndef LICSRV_DATADIR_H
#define LICSRV_DATADIR_H

#define LICSRV_DEFAULT_DATA "/var/lib/licsrv"
#define LICSRV_NODE_KEY     "node.pem"     /* in the data directory, 0600 */
#define LICSRV_NODE_PUB     "node.pub.pem"
#define LICSRV_DEFAULT_RETENTION_DAYS 180

#endif
