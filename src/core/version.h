/* The version of pgwarehouse, printed by --version and sent as the client version. */
#ifndef PGW_VERSION_H
#define PGW_VERSION_H

#define PGW_VERSION "0.2.0"

#endif
