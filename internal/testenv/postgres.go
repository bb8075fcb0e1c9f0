package testenv

import (
	"path/filepath"
	"testing"
)

// Postgres is a running PostgreSQL server, for Terraform's pg backend.
type Postgres struct {
	// ConnStr is a libpq URL of the database "terraform".
	ConnStr string
	// Bin is the directory of the server's programs (psql).
	Bin string
}

// PostgresForTest starts PostgreSQL on loopback through
// testenv/postgres/start.sh and stops it at the end of the test.
func PostgresForTest(t testing.TB) *Postgres {
	t.Helper()
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(matches) == 0 {
		Unavailable(t, "postgresql is not installed (testenv/install.sh installs it)")
	}
	env := startForTest(t, "postgres/start.sh", "postgres/stop.sh", t.TempDir())
	return &Postgres{ConnStr: env["PG_CONN_STR"], Bin: env["PG_BIN"]}
}
