package idp

import (
	"cmp"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"
)

// The phone simulator: the citizen's own phone with the ID app. It is a
// demo and test aid, so any visitor may act as any test citizen.

type pendingLogin struct {
	LinkCode  string    `json:"linkCode"`
	CreatedAt time.Time `json:"createdAt"`
	Display   string    `json:"-"`
	ClientID  string    `json:"clientId"`
	// Where the login happens, as the kiosk said, and the numbers the
	// phone offers: the citizen picks the one on the kiosk screen.
	Office    string   `json:"office,omitempty"`
	KioskID   string   `json:"kioskId,omitempty"`
	Procedure string   `json:"procedure,omitempty"`
	Choices   []string `json:"choices,omitempty"`
}

// pendingOf describes t for the phone; p.mu is held.
func pendingOf(t *txn) pendingLogin {
	return pendingLogin{LinkCode: t.linkCode, CreatedAt: t.created, Display: displayLinkCode(t.linkCode), ClientID: t.clientID,
		Office: t.bind.office, KioskID: t.bind.kioskID, Procedure: t.bind.procedure, Choices: slices.Clone(t.bind.choices)}
}

// pending lists the logins waiting for approval, newest first.
func (p *Provider) pending() []pendingLogin {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	out := []pendingLogin{}
	for _, t := range p.txns {
		if statusLocked(t, now) == statusPending {
			out = append(out, pendingOf(t))
		}
	}
	slices.SortFunc(out, func(a, b pendingLogin) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.LinkCode, b.LinkCode)
	})
	return out
}

// inboxOf returns the citizen's inbox, newest first.
func (p *Provider) inboxOf(citizenID string) []message {
	p.mu.Lock()
	defer p.mu.Unlock()
	box := p.inbox[citizenID]
	out := make([]message, 0, len(box))
	for i := len(box) - 1; i >= 0; i-- {
		out = append(out, box[i])
	}
	return out
}

type approveRequest struct {
	LinkCode  string `json:"linkCode"`
	CitizenID string `json:"citizenId"`
	Number    string `json:"number,omitempty"` // picked on the phone: the one on the kiosk screen
}

func (p *Provider) servePhoneAPIApprove(w http.ResponseWriter, r *http.Request) {
	p.servePhoneAPIDecide(w, r, false)
}

func (p *Provider) servePhoneAPIDeny(w http.ResponseWriter, r *http.Request) {
	p.servePhoneAPIDecide(w, r, true)
}

func (p *Provider) servePhoneAPIDecide(w http.ResponseWriter, r *http.Request, deny bool) {
	var req approveRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, tokenError{Error: "invalid_request", Description: "body must be {\"linkCode\":…,\"citizenId\":…,\"number\":…}"})
		return
	}
	status, err := p.approve(req.LinkCode, req.CitizenID, req.Number, deny)
	if err != nil {
		writeJSON(w, status, tokenError{Error: http.StatusText(status), Description: err.Error()})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (p *Provider) servePhoneAPIPending(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, p.pending())
}

func (p *Provider) servePhoneAPIInbox(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	id := r.URL.Query().Get("citizen")
	if id == "" {
		writeJSON(w, http.StatusBadRequest, tokenError{Error: "invalid_request", Description: "citizen is required"})
		return
	}
	writeJSON(w, http.StatusOK, p.inboxOf(id))
}

func (p *Provider) servePhoneHome(w http.ResponseWriter, r *http.Request) {
	sel, ok := p.citizen(r.URL.Query().Get("citizen"))
	if !ok {
		sel = p.citizens[0]
	}
	securityHeaders(w, "", "")
	b := p.base("en", "ID app")
	b.Refresh = 5
	p.execute(w, "phone", struct {
		pageBase
		PhoneBase string
		Citizens  []Citizen
		Selected  Citizen
		Pending   []pendingLogin
		Inbox     []message
	}{b, p.phoneP, p.citizens, sel, p.pending(), p.inboxOf(sel.ID)})
}

func (p *Provider) servePhoneLink(w http.ResponseWriter, r *http.Request) {
	lc := normLinkCode(r.PathValue("code"))
	p.mu.Lock()
	t, ok := p.links[lc]
	var st string
	var pl pendingLogin
	if ok {
		st, pl = statusLocked(t, p.now()), pendingOf(t)
	}
	p.mu.Unlock()
	securityHeaders(w, "", "")
	if !ok || st != statusPending {
		w.WriteHeader(http.StatusNotFound)
		p.execute(w, "result", struct {
			pageBase
			PhoneBase, Message string
			Failed             bool
		}{p.base("en", "ID app"), p.phoneP, "This login is unknown, expired or already decided.", true})
		return
	}
	p.execute(w, "link", struct {
		pageBase
		PhoneBase string
		Login     pendingLogin
		Citizens  []Citizen
	}{p.base("en", "ID app"), p.phoneP, pl, p.citizens})
}

func (p *Provider) servePhoneLinkPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	deny := r.PostForm.Get("action") == "deny"
	status, err := p.approve(r.PathValue("code"), r.PostForm.Get("citizenId"), r.PostForm.Get("number"), deny)
	msg := "Approved. Look at the kiosk screen."
	if deny {
		msg = "Declined."
	}
	if errors.Is(err, errNumberMismatch) {
		msg = "That is not the number on the kiosk screen, so the login was refused to keep your account safe. If you are at the kiosk, start the login again there."
	} else if err != nil {
		msg = "Could not decide: " + err.Error()
	} else {
		status = http.StatusOK
	}
	securityHeaders(w, "", "")
	w.WriteHeader(status)
	p.execute(w, "result", struct {
		pageBase
		PhoneBase, Message string
		Failed             bool
	}{p.base("en", "ID app"), p.phoneP, msg, err != nil})
}
