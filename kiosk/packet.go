package kiosk

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/kiosk/outbox"
)

// Application is everything a packet is built from: a copy of the session's
// data at the moment the citizen confirmed, taken under the lock.
type Application struct {
	PacketID          string
	KioskID           string
	OfficeCode        string
	Language          string
	Procedure         api.Procedure
	Applicant         api.Applicant // from the verified identity
	Form              map[string]string
	Docs              []ScannedDocument
	ConfirmationToken string
	CreatedAt         time.Time
}

// BuildPacket lays out the packet for a: the manifest (with a SHA-256 and
// size per document, in the order the procedure lists them, documents with
// no pages left out) and the document files. It is a pure function: the
// caller signs the manifest and writes the packet.
func BuildPacket(a Application) (manifestJSON []byte, docs []outbox.Doc, provisional string, err error) {
	m, docs := a.manifest()
	m.ProvisionalNumber = provisionalNumber(a.KioskID, a.CreatedAt, a.PacketID)
	manifestJSON, err = json.Marshal(m)
	if err != nil {
		return nil, nil, "", err
	}
	return manifestJSON, docs, m.ProvisionalNumber, nil
}

// Review is what the citizen confirms with the code: the review of the
// manifest BuildPacket makes of a (a's packet ID and token do not enter it).
func (a Application) Review() api.Review {
	m, _ := a.manifest()
	return api.ReviewOf(m)
}

// manifest is a's manifest, but for the provisional number, and its
// document files.
func (a Application) manifest() (api.Manifest, []outbox.Doc) {
	var docs []outbox.Doc
	m := api.Manifest{
		PacketID:          a.PacketID,
		ProcedureID:       a.Procedure.ID,
		KioskID:           a.KioskID,
		OfficeCode:        a.OfficeCode,
		CreatedAt:         a.CreatedAt,
		Language:          a.Language,
		Applicant:         a.Applicant,
		Form:              a.Form,
		ConfirmationToken: a.ConfirmationToken,
	}
	for i, d := range a.Docs {
		if d.Pages == 0 {
			continue
		}
		name := fmt.Sprintf("doc-%d-%s.pdf", i+1, d.Type)
		sum := sha256.Sum256(d.PDF)
		m.Documents = append(m.Documents, api.DocumentRef{
			Type: d.Type, File: name, Pages: d.Pages, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(d.PDF)),
		})
		docs = append(docs, outbox.Doc{Name: name, Data: d.PDF})
	}
	return m, docs
}
