//go:build demo

package main

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestKioskNotifiesSystemd runs the kiosk as systemd would start it
// (NOTIFY_SOCKET, WATCHDOG_USEC) with a unixgram socket standing in for
// systemd: READY=1 comes once the kiosk is up (its UI answers by then),
// WATCHDOG=1 follows at half the interval, and SIGTERM brings STOPPING=1
// and a clean exit. It also serves the touchscreen's launcher socket.
func TestKioskNotifiesSystemd(t *testing.T) {
	dir, err := os.MkdirTemp("", "kn") // unix socket paths are short
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	notify := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var msgs []string
	next := func(within time.Duration) string {
		buf := make([]byte, 4096)
		conn.SetReadDeadline(time.Now().Add(within))
		n, err := conn.Read(buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return ""
		}
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, string(buf[:n]))
		return string(buf[:n])
	}
	expect := func(want string, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for time.Now().Before(deadline) {
			if strings.HasPrefix(next(time.Until(deadline)), want) {
				return
			}
		}
		t.Fatalf("waited %v for %q from the kiosk; it sent %q", within, want, msgs)
	}

	listen := freePort(t)
	launcher := filepath.Join(dir, "browser.sock")
	k := startKioskProcEnv(t, []string{"NOTIFY_SOCKET=" + notify, "WATCHDOG_USEC=400000"},
		demoArgs(t, "--listen", listen, "--browser-socket", launcher)...)

	expect("READY=1", 90*time.Second)
	// The kiosk prints its banner before READY=1; the pipe may deliver it
	// a moment later.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(k.stdout.String(), "kiosk ready"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("READY=1 but no \"kiosk ready\" within 5 s; stdout:\n%s", k.stdout)
		}
	}
	// Up means serving: the UI answers (its refusal page, to anyone but
	// its browser) and the launcher socket hands out a launch URL.
	resp, err := http.Get("http://" + listen + "/")
	if err != nil {
		t.Fatalf("the UI does not answer after READY=1: %v", err)
	}
	resp.Body.Close()
	var d net.Dialer
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return d.DialContext(ctx, "unix", launcher)
	}}}
	resp, err = hc.Get("http://kiosk/launch")
	if err != nil {
		t.Fatalf("launcher socket: %v", err)
	}
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	resp.Body.Close()
	if !strings.HasPrefix(line, "http://"+listen+"/") {
		t.Errorf("launcher socket answered %q, not a launch URL", line)
	}
	if st, err := os.Stat(launcher); err != nil || st.Mode().Perm() != 0o660 {
		t.Errorf("launcher socket mode: %v %v, want 0660", st.Mode(), err)
	}

	for range 3 {
		expect("WATCHDOG=1", 5*time.Second)
	}
	k.cmd.Process.Signal(syscall.SIGTERM)
	expect("STOPPING=1", 10*time.Second)
	if code := k.wait(t, 20*time.Second, "stopping on SIGTERM"); code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", code, k.stderr)
	}
}
