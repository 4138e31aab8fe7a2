package portal_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	backendclient "govkiosk/backend-client"
	"govkiosk/backend-client/api"
	"govkiosk/portal"
)

// postSignedHeartbeat posts body as the enrolled kiosk's heartbeat, signed
// with its key, and returns the status and error code.
func (e *env) postSignedHeartbeat(t *testing.T, body []byte) (int, string) {
	t.Helper()
	sig, err := backendclient.Sign(e.key, body)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", e.url+api.PathHeartbeat, bytes.NewReader(body))
	req.Header.Set(api.HeaderKioskID, e.kid)
	req.Header.Set(api.HeaderKioskSignature, base64.StdEncoding.EncodeToString(sig))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Code string `json:"code"`
	}
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out.Code
}

// heartbeatBody is a kiosk heartbeat as the kiosk signs it.
func heartbeatBody(t *testing.T, kioskID string, seq uint64, at time.Time) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"kioskId": kioskID, "version": "0.1.0", "at": at, "seq": seq, "devices": []any{}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHeartbeatReplayRefused: a signed heartbeat captured on the wire and
// sent again (to make a dead or stolen kiosk look alive and healthy) is
// refused with 409, and so is any older one.
func TestHeartbeatReplayRefused(t *testing.T) {
	e := newEnv(t, nil)
	now := e.clk.Now()
	second := heartbeatBody(t, e.kid, 2, now)
	if st, code := e.postSignedHeartbeat(t, second); st != http.StatusNoContent {
		t.Fatalf("fresh heartbeat: %d %s", st, code)
	}
	if st, code := e.postSignedHeartbeat(t, second); st != http.StatusConflict {
		t.Errorf("the same heartbeat again: %d %s; want 409", st, code)
	}
	if st, code := e.postSignedHeartbeat(t, heartbeatBody(t, e.kid, 1, now)); st != http.StatusConflict {
		t.Errorf("an older heartbeat: %d %s; want 409", st, code)
	}
	if st, code := e.postSignedHeartbeat(t, heartbeatBody(t, e.kid, 3, now)); st != http.StatusNoContent {
		t.Errorf("the next heartbeat: %d %s", st, code)
	}
}

// TestStaleHeartbeatRefused: a heartbeat whose time is more than five
// minutes from the portal's (an old one kept and sent later, or a kiosk
// whose clock is wrong) is refused.
func TestStaleHeartbeatRefused(t *testing.T) {
	e := newEnv(t, nil)
	now := e.clk.Now()
	for name, at := range map[string]time.Time{
		"ten minutes old":       now.Add(-10 * time.Minute),
		"ten minutes ahead":     now.Add(10 * time.Minute),
		"without a time at all": {},
	} {
		if st, code := e.postSignedHeartbeat(t, heartbeatBody(t, e.kid, uint64(now.Unix()), at)); st/100 != 4 {
			t.Errorf("%s: %d %s; want refused", name, st, code)
		}
	}
	if st, code := e.postSignedHeartbeat(t, heartbeatBody(t, e.kid, 1, now.Add(-4*time.Minute))); st != http.StatusNoContent {
		t.Errorf("four minutes old: %d %s; want accepted", st, code)
	}
}

// The kiosk's client tells the two refusals apart, for its log.
func TestHeartbeatRefusalsReachTheKiosk(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	hb := api.Heartbeat{KioskID: e.kid, Version: "0.1.0", At: e.clk.Now(), Seq: 7}
	if err := e.kiosk.Heartbeat(ctx, hb); err != nil {
		t.Fatal(err)
	}
	if err := e.kiosk.Heartbeat(ctx, hb); !errors.Is(err, backendclient.ErrHeartbeatReplayed) {
		t.Errorf("replay: %v", err)
	}
	hb.Seq, hb.At = 8, e.clk.Now().Add(-time.Hour)
	if err := e.kiosk.Heartbeat(ctx, hb); !errors.Is(err, backendclient.ErrHeartbeatStale) {
		t.Errorf("stale: %v", err)
	}
}

// The signed catalogue carries an expiry, and the portal signs it again
// before half of its life has passed, so kiosks always get time in hand.
func TestCatalogueExpiresAndIsResigned(t *testing.T) {
	e := newEnv(t, func(o *portal.Options) { o.CatalogueTTL = 48 * time.Hour })
	ctx := context.Background()
	cat, _, err := e.kiosk.Catalogue(ctx, e.s.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if want := e.clk.Now().Add(48 * time.Hour); !cat.ExpiresAt.Equal(want) {
		t.Fatalf("expires %v, want %v", cat.ExpiresAt, want)
	}
	e.clk.Add(23 * time.Hour)
	if again, _, _ := e.kiosk.Catalogue(ctx, e.s.PublicKey()); !again.ExpiresAt.Equal(cat.ExpiresAt) {
		t.Errorf("re-signed before half its life: %v", again.ExpiresAt)
	}
	e.clk.Add(2 * time.Hour)
	again, _, err := e.kiosk.Catalogue(ctx, e.s.PublicKey())
	if err != nil || !again.ExpiresAt.Equal(e.clk.Now().Add(48*time.Hour)) || again.Version != cat.Version {
		t.Errorf("after half its life: version %s expires %v (%v)", again.Version, again.ExpiresAt, err)
	}
}
