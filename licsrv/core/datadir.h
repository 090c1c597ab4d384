/* datadir.h - the files of a licsrv data directory that more than one layer
 * names (the store's own layout is store/'s business). */
#ifndef LICSRV_DATADIR_H
#define LICSRV_DATADIR_H

#define LICSRV_DEFAULT_DATA "/var/lib/licsrv"
#define LICSRV_NODE_KEY     "node.pem"     /* in the data directory, 0600 */
#define LICSRV_NODE_PUB     "node.pub.pem"
#define LICSRV_DEFAULT_RETENTION_DAYS 180
/* Vendor root keys trusted besides the built-in ones (`licsrv trust`): PEM files */
#define LICSRV_TRUST_DIR    "trusted"
/* Public mode: the online key (certified by 'licgen certify'), the pending
 * one of 'licsrv rekey' until its certificate is imported, and the one it
 * replaced (kept: verdicts signed with it stay checkable). */
#define LICSRV_ONLINE_KEY      "online.pem"
#define LICSRV_ONLINE_PUB      "online.pub.pem"
#define LICSRV_ONLINE_NEXT     "online.next.pem"
#define LICSRV_ONLINE_NEXT_PUB "online.next.pub.pem"
#define LICSRV_ONLINE_PREV     "online.prev.pem"
#define LICSRV_ONLINE_PREV_PUB "online.prev.pub.pem"

#endif
