/* migrations.h - the schema migrations compiled into anpid (engine/schema/). */
#ifndef ANPI_MIGRATIONS_H
#define ANPI_MIGRATIONS_H

struct anpi_migration {
    int version;
    const char *name;
    const char *sql;
};

extern const struct anpi_migration anpi_migrations[];
extern const unsigned anpi_migration_count;

#endif
