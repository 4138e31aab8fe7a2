package packaging

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"govkiosk/fleet/mosquitto"
)

// The broker host's units (not in the kiosk's package): the path unit
// watches the file the fleet service writes and mosquitto reads as its
// crlfile, and its service restarts mosquitto; systemd-analyze finds
// nothing to say about either.
func TestFleetCRLUnits(t *testing.T) {
	t.Parallel()
	analyze := need(t, "systemd-analyze", "systemd")
	var paths []string
	for _, u := range []string{"govkiosk-mosquitto-crl.path", "govkiosk-mosquitto-crl.service"} {
		paths = append(paths, filepath.Join("systemd", u))
	}
	path, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	var crlfile string
	for _, l := range strings.Split(mosquitto.Conf, "\n") {
		if v, ok := strings.CutPrefix(l, "crlfile "); ok {
			crlfile = v
		}
	}
	if crlfile == "" || !bytes.Contains(path, []byte("\nPathChanged="+crlfile+"\n")) {
		t.Errorf("the path unit does not watch mosquitto's crlfile %q", crlfile)
	}
	svc, err := os.ReadFile(paths[1])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(svc, []byte("restart mosquitto.service")) {
		t.Error("the CRL unit does not restart mosquitto")
	}
	cmd := exec.Command(analyze, append([]string{"verify"}, paths...)...)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=notice")
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
