package portal

import (
	"crypto"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"govkiosk/backend-client/idqr"
	"govkiosk/backend-client/qrpng"
	"govkiosk/portal/idp"
)

// The reference portal also stands in for the civil registry that prints a
// signed offline QR on each citizen's ID card (the shape of MOSIP Claim 169).
// Its issuer key rides in the signed catalogue as the kiosks' trust list.
const (
	idCardKeyID  = "registry-demo-1"
	idCardIssuer = "govkiosk-demo-registry"
	// PathIDCard shows a test citizen's ID card QR on the simulated phone:
	// GET PathIDCard?citizen=ID (PNG) or with &format=text (the payload).
	PathIDCard = "/phone/idcard"
)

func idCardTrustList(key *ecdsa.PrivateKey) (json.RawMessage, error) {
	t, err := idqr.NewTrustListKeys(idqr.TrustedKey{KID: idCardKeyID, Issuer: idCardIssuer, Key: key.Public()})
	if err != nil {
		return nil, fmt.Errorf("id card trust list: %w", err)
	}
	return t.MarshalJSON()
}

// IDCardPayload is the signed QR payload on a test citizen's ID card.
func (s *Server) IDCardPayload(citizenID string) (string, error) {
	for _, c := range idp.TestCitizens() {
		if c.ID != citizenID {
			continue
		}
		now := s.now()
		nationality := "VNM"
		if c.Profile == "th" {
			nationality = "THA"
		}
		return idqr.Issue(idqr.Claims{
			Issuer: idCardIssuer, CitizenID: c.ID, Name: c.Name, GivenName: c.GivenName, FamilyName: c.FamilyName,
			BirthDate: c.BirthDate, Address: c.Address, Nationality: nationality,
			IssuedAt: now.Add(-time.Hour), Expires: now.AddDate(5, 0, 0),
		}, idCardKeyID, crypto.Signer(s.keys.idCard))
	}
	return "", fmt.Errorf("no test citizen %q", citizenID)
}

func (s *Server) handleIDCard(w http.ResponseWriter, r *http.Request) {
	payload, err := s.IDCardPayload(r.URL.Query().Get("citizen"))
	if err != nil {
		writeError(w, http.StatusNotFound, "not_found", "no such test citizen")
		return
	}
	if r.URL.Query().Get("format") == "text" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, payload)
		return
	}
	b, err := qrpng.Encode(payload, 480)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "could not draw the QR")
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}
