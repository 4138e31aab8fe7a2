package idp

import (
	"cmp"
	"encoding/json"
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
}

// pending lists the logins waiting for approval, newest first.
func (p *Provider) pending() []pendingLogin {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	out := []pendingLogin{}
	for _, t := range p.txns {
		if statusLocked(t, now) == statusPending {
			out = append(out, pendingLogin{LinkCode: t.linkCode, CreatedAt: t.created, Display: displayLinkCode(t.linkCode)})
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
		writeJSON(w, http.StatusBadRequest, tokenError{Error: "invalid_request", Description: "body must be {\"linkCode\":…,\"citizenId\":…}"})
		return
	}
	status, err := p.approve(req.LinkCode, req.CitizenID, deny)
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
	securityHeaders(w, "")
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
	var st, client string
	if ok {
		st, client = statusLocked(t, p.now()), t.clientID
	}
	p.mu.Unlock()
	securityHeaders(w, "")
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
		PhoneBase, LinkCode, Display, ClientID string
		Citizens                               []Citizen
	}{p.base("en", "ID app"), p.phoneP, lc, displayLinkCode(lc), client, p.citizens})
}

func (p *Provider) servePhoneLinkPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	deny := r.PostForm.Get("action") == "deny"
	status, err := p.approve(r.PathValue("code"), r.PostForm.Get("citizenId"), deny)
	msg := "Approved. Look at the kiosk screen."
	if deny {
		msg = "Declined."
	}
	if err != nil {
		msg = "Could not decide: " + err.Error()
	} else {
		status = http.StatusOK
	}
	securityHeaders(w, "")
	w.WriteHeader(status)
	p.execute(w, "result", struct {
		pageBase
		PhoneBase, Message string
		Failed             bool
	}{p.base("en", "ID app"), p.phoneP, msg, err != nil})
}
