/* idict-mpi-private.h - what the files of libidict-mpi share.  Not installed.
 *
 * changes.c turns a rank's changed keys into bytes and back; sync.c is the
 * collective.
 */
#ifndef IDICT_MPI_PRIVATE_H
#define IDICT_MPI_PRIVATE_H

#include "idict-mpi.h"

G_BEGIN_DECLS

/* ---- changes.c ----
 * A list of changes as bytes, one record after another, in the machine's
 * byte order (every rank of a job runs on the same kind of machine):
 *   u8 kind, u8 name length (1..255), the name,
 *   then by kind: removed nothing; double, int 8 bytes; bool 1 byte;
 *   any other value: u32 type-string length, the type string,
 *   u32 size, the serialized GVariant (normal form). */
typedef enum {
	IDICT__MPI_REMOVED,
	IDICT__MPI_DOUBLE,
	IDICT__MPI_INT,
	IDICT__MPI_BOOL,
	IDICT__MPI_VARIANT,
} IDictMpiKind;

typedef struct {
	IDictMpiKind kind;
	const char *name; /* not NUL-terminated: name_len bytes, in the buffer */
	guint name_len;
	union {
		double d;
		gint64 i;
		gboolean b;
		GVariant *v; /* owned by the record's consumer, for IDICT__MPI_VARIANT */
	} as;
} IDictMpiRecord;

/* Appends the change of @name: its new @value, or its removal if @value is
 * NULL. */
void idict__mpi_pack(GByteArray *out, const char *name, GVariant *value);
/* Calls @func for each record in @len bytes at @data; the record's variant,
 * if any, is @func's to unref.
 * Returns: TRUE, or FALSE with @error set if the bytes are not such a list
 *   (records before the damage have been passed on). */
typedef void (*IDictMpiRecordFunc)(IDictMpiRecord *record, gpointer user_data);
gboolean idict__mpi_unpack(const guint8 *data, gsize len, IDictMpiRecordFunc func,
			   gpointer user_data, GError **error);
/* Stores @record (consuming its variant) in @dict under @prefix + its name.
 * Returns: TRUE, or FALSE with @error set. */
gboolean idict__mpi_apply(IDict *dict, const char *prefix, IDictMpiRecord *record,
			  GError **error);

G_END_DECLS

#endif /* IDICT_MPI_PRIVATE_H */
