/* An undo record for DuckDB's in-place writes, so that kill -9 cannot damage a database file.
 *
 * DuckDB (1.4, 1.5) rewrites some blocks of its file in place when it checkpoints (metadata
 * blocks that hold both new and still-live entries). A process killed inside that pwrite() leaves
 * half a block, whose checksum then fails, and the file no longer opens (bench/duckdb_kill.sh).
 * pgwarehouse defines pwrite() itself: a write over existing bytes of a watched file first saves
 * those bytes to "<file>.pgw-undo" (offset, length, crc32, the old bytes), then writes, then
 * clears the record. A record still valid when the file is next opened belongs to a write that
 * may have been cut: its old bytes are put back, which leaves the file as it was before that one
 * write (a state DuckDB can always open: the write had not been followed by anything). Only a
 * process kill is covered: the undo file is not fsynced, so a power cut is not. */
#ifndef PGW_DUCKDB_UNDO_H
#define PGW_DUCKDB_UNDO_H

#include <stddef.h>

/* Puts back the bytes of an undo record left by a killed process, if any; 1 when it did, 0
 * when there was none, -1 with msg filled when the record or the file cannot be read/written. */
int pgw_duck_undo_recover(const char *path, char *msg, size_t msglen);
/* Records in-place writes to path (by device and inode, the file may not exist yet) until
 * pgw_duck_undo_unwatch(path). Watching the same path twice counts twice. */
void pgw_duck_undo_watch(const char *path);
void pgw_duck_undo_unwatch(const char *path);

#endif
