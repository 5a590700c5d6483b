/*
 * dbdriver: a small driver for the SQLite library, written for the capjit
 * realworld suite (the libsqlite3-sys crate ships the amalgamation but not
 * SQLite's shell.c). Everything that matters runs inside SQLite: it creates a
 * database file, fills a table with N rows in one transaction through a
 * prepared statement, builds indexes, runs a set of queries (aggregates,
 * GROUP BY, ORDER BY with LIMIT, an index lookup, a self-join, LIKE, a
 * subquery, an UPDATE and a DELETE), closes the file, reopens it and checks
 * it with PRAGMA integrity_check. Output is deterministic: rows come from a
 * fixed linear congruential generator and every query has a total order.
 *
 * Usage: dbdriver DBFILE N
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite3.h"

static void die(sqlite3 *db, const char *what) {
  fprintf(stderr, "dbdriver: %s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
  exit(1);
}

static void exec(sqlite3 *db, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "dbdriver: %s: %s\n", sql, err ? err : "?");
    exit(1);
  }
}

/* Print every row of a query, columns separated by '|', as the sqlite3 shell does. */
static void query(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  int rc, rows = 0;
  printf("-- %s\n", sql);
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) die(db, sql);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int n = sqlite3_column_count(st);
    for (int i = 0; i < n; i++) {
      const unsigned char *t = sqlite3_column_text(st, i);
      printf("%s%s", i ? "|" : "", t ? (const char *)t : "NULL");
    }
    printf("\n");
    rows++;
  }
  if (rc != SQLITE_DONE) die(db, sql);
  sqlite3_finalize(st);
  printf("(%d rows)\n", rows);
}

static unsigned long long lcg_state = 42;
static unsigned lcg(void) {
  lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (unsigned)(lcg_state >> 33);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: dbdriver DBFILE N\n");
    return 2;
  }
  const char *path = argv[1];
  long n = atol(argv[2]);
  sqlite3 *db;
  static const char *cities[] = {"Amsterdam", "Berlin", "Cairo", "Dakar", "Edinburgh",
                                 "Florence", "Geneva", "Hanoi", "Istanbul", "Jakarta"};

  printf("SQLite %s, %ld rows\n", sqlite3_libversion(), n);
  remove(path);
  if (sqlite3_open(path, &db) != SQLITE_OK) die(db, "open");
  exec(db, "PRAGMA journal_mode=DELETE");
  exec(db, "CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL,"
           " age INTEGER NOT NULL, score REAL NOT NULL, manager INTEGER)");

  sqlite3_stmt *ins;
  if (sqlite3_prepare_v2(db, "INSERT INTO people(name, city, age, score, manager) VALUES(?,?,?,?,?)",
                         -1, &ins, NULL) != SQLITE_OK)
    die(db, "prepare insert");
  exec(db, "BEGIN");
  for (long i = 1; i <= n; i++) {
    char name[32];
    unsigned r = lcg();
    snprintf(name, sizeof name, "person%c%c%ld", 'a' + r % 26, 'a' + (r / 26) % 26, i);
    sqlite3_bind_text(ins, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ins, 2, cities[lcg() % 10], -1, SQLITE_STATIC);
    sqlite3_bind_int(ins, 3, 18 + (int)(lcg() % 60));
    /* Quarter steps are exact in binary floating point: sums print the same everywhere. */
    sqlite3_bind_double(ins, 4, (double)(lcg() % 400) / 4.0);
    if (i > 1)
      sqlite3_bind_int64(ins, 5, 1 + (long)(lcg() % (unsigned)(i - 1)));
    else
      sqlite3_bind_null(ins, 5);
    if (sqlite3_step(ins) != SQLITE_DONE) die(db, "insert");
    sqlite3_reset(ins);
  }
  sqlite3_finalize(ins);
  exec(db, "COMMIT");

  exec(db, "CREATE INDEX people_city_age ON people(city, age)");
  exec(db, "CREATE INDEX people_name ON people(name)");
  exec(db, "CREATE INDEX people_manager ON people(manager)");

  query(db, "SELECT count(*), min(age), max(age), sum(score), total(age) FROM people");
  query(db, "SELECT city, count(*), sum(age), min(score), max(score) FROM people GROUP BY city ORDER BY city");
  query(db, "SELECT id, name, age FROM people WHERE city = 'Geneva' AND age BETWEEN 30 AND 32"
            " ORDER BY age, id LIMIT 5");
  query(db, "SELECT id, name, score FROM people ORDER BY score DESC, id LIMIT 5");
  query(db, "SELECT count(*) FROM people WHERE name LIKE 'personq%'");
  query(db, "SELECT m.id, m.name, count(*) AS reports FROM people p JOIN people m ON p.manager = m.id"
            " GROUP BY m.id ORDER BY reports DESC, m.id LIMIT 5");
  query(db, "SELECT city, age, count(*) FROM people WHERE age > (SELECT avg(age) FROM people) + 25"
            " GROUP BY city, age ORDER BY count(*) DESC, city, age LIMIT 5");
  exec(db, "UPDATE people SET score = score + 1 WHERE city = 'Cairo'");
  exec(db, "DELETE FROM people WHERE age < 20");
  query(db, "SELECT count(*), sum(score) FROM people");
  if (sqlite3_close(db) != SQLITE_OK) die(db, "close");

  if (sqlite3_open(path, &db) != SQLITE_OK) die(db, "reopen");
  query(db, "PRAGMA integrity_check");
  query(db, "SELECT name FROM sqlite_schema ORDER BY name");
  query(db, "SELECT count(*) FROM people WHERE manager IS NULL OR manager NOT IN (SELECT id FROM people)");
  if (sqlite3_close(db) != SQLITE_OK) die(db, "close");
  return 0;
}
