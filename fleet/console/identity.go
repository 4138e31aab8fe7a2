package console

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"govkiosk/backend-client/api"
	"govkiosk/backend-client/fleetwire"
	"govkiosk/backend-client/qrpng"
	"govkiosk/fleet"
)

// PortalAdmin is the portal's admin API for device identities, as the
// console uses it (backend-client/portaladmin's Client).
type PortalAdmin interface {
	CreateEnrollToken(ctx context.Context, req api.EnrollTokenRequest) (api.EnrollTokenResponse, error)
	Revoke(ctx context.Context, kioskID string, req api.RevokeRequest) error
	Retire(ctx context.Context, kioskID string, req api.RevokeRequest) error
}

// PortalRefusal is an error of the portal's that staff may read (the
// portal's own message); other errors are logged and shown as a code.
type PortalRefusal interface {
	error
	PortalMessage() string
}

// Identity actions, as the command audit names them.
const (
	ActionEnroll = "enroll"
	ActionRevoke = "revoke"
	ActionRetire = "retire"
)

// DefaultEnrollTTLHours is the enrollment code's lifetime the form offers.
const DefaultEnrollTTLHours = 8

// operator says whether a staff member may enroll, revoke and retire.
func (c *Console) operator(user string) bool { return slices.Contains(c.o.Operators, user) }

// identityGate lets only an operator through to a configured portal, and
// says why not otherwise.
func (c *Console) identityGate(w http.ResponseWriter, r *http.Request, s session) bool {
	if c.o.Portal == nil {
		c.render(w, http.StatusOK, "enroll", c.page(r, s, "identity.notconfigured", enrollData{}))
		return false
	}
	if !c.operator(s.user) {
		c.render(w, http.StatusForbidden, "error", c.page(r, s, "identity.operatorsonly", nil))
		return false
	}
	return true
}

// offices are the offices a kiosk may be enrolled for: the configured
// ones and those of the registry.
func (c *Console) offices(ctx context.Context) ([]string, error) {
	out := append([]string(nil), c.o.Offices...)
	if sum, ok := c.o.Store.(fleet.Summarizer); ok {
		groups, err := c.summary(ctx, sum, true)
		if err != nil {
			return nil, err
		}
		for _, g := range groups {
			if g.Office != "" {
				out = append(out, g.Office)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

type enrollData struct {
	Offices    []string
	Office     string
	Kiosks     []string // of Office, that an enrollment may replace
	TTLHours   int
	MaxHours   int
	Configured bool
	// The issued code.
	Result *api.EnrollTokenResponse
	QR     template.URL // data:image/png;base64,…
}

func (c *Console) enrollPage(w http.ResponseWriter, r *http.Request, _ string, s session) {
	if !c.identityGate(w, r, s) {
		return
	}
	d, err := c.enrollForm(r.Context(), r.URL.Query().Get("office"))
	if err != nil {
		c.fail(w, r, s, "enroll form", err)
		return
	}
	c.render(w, http.StatusOK, "enroll", c.page(r, s, "", d))
}

func (c *Console) enrollForm(ctx context.Context, office string) (enrollData, error) {
	d := enrollData{TTLHours: DefaultEnrollTTLHours, MaxHours: int(api.MaxEnrollTokenTTL / time.Hour), Configured: true}
	var err error
	if d.Offices, err = c.offices(ctx); err != nil {
		return d, err
	}
	if slices.Contains(d.Offices, office) {
		d.Office = office
		views, _, err := c.o.Store.Kiosks(ctx, fleet.Filter{Office: office, Limit: 1000})
		if err != nil {
			return d, err
		}
		for _, v := range views {
			d.Kiosks = append(d.Kiosks, v.KioskID)
		}
		slices.Sort(d.Kiosks)
	}
	return d, nil
}

func (c *Console) enroll(w http.ResponseWriter, r *http.Request, _ string, s session) {
	if !c.identityGate(w, r, s) {
		return
	}
	ctx := r.Context()
	office, replace := r.PostFormValue("office"), r.PostFormValue("replace")
	d, err := c.enrollForm(ctx, office)
	if err != nil {
		c.fail(w, r, s, "enroll form", err)
		return
	}
	hours, err := strconv.Atoi(r.PostFormValue("ttl"))
	switch {
	case d.Office == "":
		c.render(w, http.StatusBadRequest, "enroll", c.page(r, s, "enroll.badoffice", d))
		return
	case err != nil || hours < 1 || hours > d.MaxHours:
		c.render(w, http.StatusBadRequest, "enroll", c.page(r, s, "enroll.badttl", d))
		return
	case replace != "" && !slices.Contains(d.Kiosks, replace):
		c.render(w, http.StatusBadRequest, "enroll", c.page(r, s, "enroll.badreplace", d))
		return
	}
	d.TTLHours = hours
	req := api.EnrollTokenRequest{Office: d.Office, TTLSeconds: int64(hours) * 3600, ReplaceKiosk: replace, IssuedBy: s.user}
	args := fmt.Sprintf("office %s, %dh", d.Office, hours)
	if replace != "" {
		args += ", replaces " + replace
	}
	target := replace
	if target == "" {
		target = "office:" + d.Office // the audit of a new kiosk's code, by office
	}
	resp, err := c.o.Portal.CreateEnrollToken(ctx, req)
	c.audit(ctx, s.user, ActionEnroll, target, args, err)
	if err != nil {
		c.portalFailed(w, r, s, d, "enroll", err)
		return
	}
	png, err := qrpng.Encode(resp.Code, 0)
	if err != nil {
		c.fail(w, r, s, "enroll QR", err)
		return
	}
	d.Result = &resp
	d.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
	// The code is shown once, in this answer; its picture is inline.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	c.render(w, http.StatusOK, "enroll", c.page(r, s, "", d))
}

// portalFailed shows the portal's own refusal, or a code for any other
// failure.
func (c *Console) portalFailed(w http.ResponseWriter, r *http.Request, s session, data any, what string, err error) {
	var pr PortalRefusal
	if errors.As(err, &pr) {
		p := c.page(r, s, "", data)
		p.Error = fmt.Sprintf(tr(p.Lang, "identity.refused"), pr.PortalMessage())
		c.render(w, http.StatusBadGateway, "error", p)
		return
	}
	c.fail(w, r, s, what, err)
}

// audit keeps an identity action in the command audit (who, when, what,
// on what, and what came of it) and the log.
func (c *Console) audit(ctx context.Context, user, action, target, args string, err error) {
	now := c.o.Now()
	id, rerr := uuid.NewRandomFromReader(c.o.Rand)
	if rerr != nil {
		c.log.Error("console: audit not stored: no id", "action", action, "target", target, "by", user, "err", rerr)
		return
	}
	cmd := fleet.Command{ID: id.String(), KioskID: target, Name: action, Args: args, By: user, SentAt: now, AnsweredAt: now, State: "done"}
	if err != nil {
		cmd.State, cmd.Result = "failed", err.Error()
		if len(cmd.Result) > 300 {
			cmd.Result = cmd.Result[:300]
		}
	}
	if perr := c.o.Store.PutCommand(context.WithoutCancel(ctx), cmd); perr != nil {
		c.log.Error("console: audit not stored", "action", action, "target", target, "by", user, "err", perr)
	}
	c.log.Info("console: audit", "action", action, "target", target, "args", args, "by", user, "result", cmd.State, "err", err)
}

type identityData struct {
	View   fleet.KioskView
	Action string
}

// identityConfirm is the confirm step of revoke and retire.
func (c *Console) identityConfirm(w http.ResponseWriter, r *http.Request, _ string, s session) {
	if !c.identityGate(w, r, s) {
		return
	}
	action := r.PathValue("action")
	if action != ActionRevoke && action != ActionRetire {
		c.render(w, http.StatusNotFound, "error", c.page(r, s, "err.command", nil))
		return
	}
	v, err := c.o.Store.Kiosk(r.Context(), r.PathValue("id"))
	if err != nil {
		if isNotFound(err) {
			c.render(w, http.StatusNotFound, "error", c.page(r, s, "kiosk.unknown", nil))
			return
		}
		c.fail(w, r, s, "read kiosk", err)
		return
	}
	c.render(w, http.StatusOK, "identity", c.page(r, s, "", identityData{View: v, Action: action}))
}

// identityAction revokes or retires a kiosk at the portal, has the broker
// drop it at once (a fresh revocation list), and marks it in the registry.
func (c *Console) identityAction(w http.ResponseWriter, r *http.Request, _ string, s session) {
	if !c.identityGate(w, r, s) {
		return
	}
	ctx := r.Context()
	id, action := r.PathValue("id"), r.PathValue("action")
	if action != ActionRevoke && action != ActionRetire || !fleetwire.ValidKioskID(id) {
		c.render(w, http.StatusNotFound, "error", c.page(r, s, "err.command", nil))
		return
	}
	v, err := c.o.Store.Kiosk(ctx, id)
	if err != nil {
		if isNotFound(err) {
			c.render(w, http.StatusNotFound, "error", c.page(r, s, "kiosk.unknown", nil))
			return
		}
		c.fail(w, r, s, "read kiosk", err)
		return
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if reason == "" || len(reason) > 200 || r.PostFormValue("confirm") != id {
		c.render(w, http.StatusBadRequest, "identity", c.page(r, s, "identity.confirmfirst", identityData{View: v, Action: action}))
		return
	}
	req := api.RevokeRequest{Reason: reason, IssuedBy: s.user}
	if action == ActionRevoke {
		err = c.o.Portal.Revoke(ctx, id, req)
	} else {
		err = c.o.Portal.Retire(ctx, id, req)
	}
	c.audit(ctx, s.user, action, id, reason, err)
	if err != nil {
		c.portalFailed(w, r, s, nil, action, err)
		return
	}
	state := fleet.IdentityRevoked
	if action == ActionRetire {
		state = fleet.IdentityRetired
	}
	info := v.KioskInfo
	info.Retired, info.Identity = true, state
	if err := c.o.Store.PutKiosk(context.WithoutCancel(ctx), info); err != nil {
		c.fail(w, r, s, "mark kiosk "+state, err)
		return
	}
	q := url.Values{"identity": {state}}
	if c.o.RefreshCRL != nil {
		if err := c.o.RefreshCRL(ctx); err != nil {
			// The next periodic fetch takes it; the page says so.
			c.log.Warn("console: revocation list not refreshed after "+action, "kiosk", id, "err", err)
			q.Set("crl", "later")
		}
	}
	http.Redirect(w, r, "/kiosk/"+url.PathEscape(id)+"?"+q.Encode(), http.StatusSeeOther)
}
