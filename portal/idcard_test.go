package portal_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"govkiosk/backend-client/idqr"
	"govkiosk/portal"
	"govkiosk/portal/idp"
)

// TestIDCardQRVerifiesWithCatalogueTrust: the ID card QR the phone shows is
// verified by the trust list that rides in the signed catalogue, and the
// PNG carries a card that verifies the same way.
func TestIDCardQRVerifiesWithCatalogueTrust(t *testing.T) {
	e := newEnv(t, func(o *portal.Options) { o.PhoneSimulator = true })
	cat, _, err := e.kiosk.Catalogue(context.Background(), e.s.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	trust, err := idqr.ParseTrustListJSON(cat.IDIssuers)
	if err != nil {
		t.Fatalf("catalogue trust list: %v", err)
	}
	citizen := idp.TestCitizens()[1]
	resp, err := adminGet(e.url + portal.PathIDCard + "?format=text&citizen=" + citizen.ID)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	claims, err := idqr.Decode(payload, trust, e.clk.Now(), idqr.Limits{})
	if err != nil {
		t.Fatalf("decode the card: %v", err)
	}
	if claims.CitizenID != citizen.ID || claims.Name != citizen.Name || claims.BirthDate != citizen.BirthDate {
		t.Fatalf("card claims %v do not match the citizen", claims)
	}
	if r, _ := adminGet(e.url + portal.PathIDCard + "?citizen=000"); r.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown citizen: HTTP %d", r.StatusCode)
	}

	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Skip("zbarimg is not installed (make deps installs it)")
	}
	resp, err = adminGet(e.url + portal.PathIDCard + "?citizen=" + citizen.ID)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	p := filepath.Join(t.TempDir(), "card.png")
	os.WriteFile(p, img, 0o600)
	out, err := exec.Command(zbar, "--raw", "-q", p).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	// Each card is signed afresh (ECDSA), so compare what it proves.
	fromPNG, err := idqr.Decode([]byte(strings.TrimSpace(string(out))), trust, e.clk.Now(), idqr.Limits{})
	if err != nil {
		t.Fatalf("decode the card PNG: %v", err)
	}
	if fromPNG.CitizenID != citizen.ID || fromPNG.Name != citizen.Name {
		t.Fatalf("card PNG claims %v", fromPNG)
	}
}
