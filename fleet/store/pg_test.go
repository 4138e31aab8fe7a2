package store

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// pgBin is where Debian's postgresql-15 puts its server programs.
const pgBin = "/usr/lib/postgresql/15/bin"

// pgServer is a throwaway PostgreSQL the package's tests share: initdb and
// pg_ctl on a private data directory, socket directory and port, started
// by TestMain and stopped after the last test. pgErr says why it could not
// start; the PostgreSQL tests fail with it.
var (
	pgServer *throwawayPG
	pgErr    error
)

func TestMain(m *testing.M) {
	pgServer, pgErr = startPG()
	code := m.Run()
	if pgServer != nil {
		pgServer.stop()
	}
	os.Exit(code)
}

type throwawayPG struct {
	dir, sock string
	port      int
	cred      *syscall.Credential
	schemas   atomic.Int64
}

// pgCredential is whom the server runs as: initdb refuses root, so a root
// test (CI) runs it as the "postgres" user Debian's package creates, else
// "nobody"; anyone else runs it as themselves.
func pgCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, fmt.Errorf("running as root and there is neither a postgres nor a nobody user to run PostgreSQL as")
}

func (p *throwawayPG) run(timeout time.Duration, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(pgBin, name), args...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s (waited up to %v): %v\n%s", name, strings.Join(args, " "), timeout, err, out.String())
	}
	return nil
}

func startPG() (*throwawayPG, error) {
	if _, err := os.Stat(filepath.Join(pgBin, "initdb")); err != nil {
		return nil, fmt.Errorf("PostgreSQL 15 server programs not found in %s (Debian package postgresql-15; `make deps` installs it): %v", pgBin, err)
	}
	cred, err := pgCredential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "fleet-store-pg-")
	if err != nil {
		return nil, err
	}
	p := &throwawayPG{dir: dir, sock: filepath.Join(dir, "sock"), cred: cred}
	if err := os.Mkdir(p.sock, 0o700); err != nil {
		return nil, err
	}
	if cred != nil {
		for _, d := range []string{dir, p.sock} {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				os.RemoveAll(dir)
				return nil, err
			}
		}
	}
	// A free port, for the lock file's name: the server listens only on
	// its private socket directory.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	data := filepath.Join(dir, "data")
	if err := p.run(60*time.Second, "initdb", "-D", data, "-U", "fleet", "--auth=trust", "--no-sync", "-E", "UTF8"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses='' -c fsync=off -c full_page_writes=off -c synchronous_commit=off", p.port, p.sock)
	if err := p.run(60*time.Second, "pg_ctl", "start", "-w", "-t", "50", "-D", data, "-l", filepath.Join(dir, "log"), "-o", opts); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%v\nserver log:\n%s", err, log)
	}
	return p, nil
}

func (p *throwawayPG) stop() {
	if err := p.run(30*time.Second, "pg_ctl", "stop", "-w", "-m", "immediate", "-D", filepath.Join(p.dir, "data")); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the test PostgreSQL:", err)
	}
	os.RemoveAll(p.dir)
}

// dsn is a DSN for a fresh schema of its own, so tests never see each
// other's rows.
func (p *throwawayPG) dsn(t *testing.T) string {
	t.Helper()
	base := fmt.Sprintf("postgres://fleet@/postgres?host=%s&port=%d&sslmode=disable", p.sock, p.port)
	schema := fmt.Sprintf("t%d_%d", os.Getpid(), p.schemas.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := openPostgres(base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema on the test PostgreSQL: %v", err)
	}
	return base + "&search_path=" + schema
}

// needPG fails the test when the throwaway server did not start.
func needPG(t *testing.T) *throwawayPG {
	t.Helper()
	if pgErr != nil {
		t.Fatalf("the PostgreSQL store tests need a throwaway PostgreSQL server: %v", pgErr)
	}
	return pgServer
}
