package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"govkiosk/backend-client/api"
)

// pendingLogin and inboxMessage are the simulated phone's wire types
// (portal/idp), newest first.
type pendingLogin struct {
	LinkCode  string    `json:"linkCode"`
	CreatedAt time.Time `json:"createdAt"`
	KioskID   string    `json:"kioskId,omitempty"`
	Office    string    `json:"office,omitempty"`
	Procedure string    `json:"procedure,omitempty"`
	Choices   []string  `json:"choices,omitempty"`
}

type inboxMessage struct {
	At   time.Time `json:"at"`
	Text string    `json:"text"`
}

func runPhone(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return errors.New("phone: want an action first: pending, approve or inbox")
	}
	action := args[0]
	fs := flag.NewFlagSet("phone "+action, flag.ContinueOnError)
	portal := fs.String("portal", "", "base URL of the reference portal (required)")
	citizen := fs.String("citizen", "", "citizen ID (approve, inbox)")
	link := fs.String("link", "", "link code of the login to approve")
	latest := fs.Bool("latest", false, "approve the newest pending login (the default)")
	number := fs.String("number", "", "the number the kiosk screen shows (approve)")
	timeout := fs.Duration("timeout", 15*time.Second, "time allowed for the request")
	tokenFile := fs.String("admin-token-file", "", "file holding the portal's admin token (default: $GOVKIOSK_ADMIN_TOKEN)")
	if err := parseFlags(fs, args[1:], stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *portal == "" {
		return errors.New("phone: --portal is required")
	}
	token := os.Getenv("GOVKIOSK_ADMIN_TOKEN")
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return fmt.Errorf("phone: admin token: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	ph := phone{base: strings.TrimRight(*portal, "/") + api.PathPhone + "/api", hc: &http.Client{Timeout: *timeout}, token: token}

	switch action {
	case "pending":
		var pending []pendingLogin
		if err := ph.get(ctx, "/pending", &pending); err != nil {
			return err
		}
		if len(pending) == 0 {
			_, err := fmt.Fprintln(stdout, "no pending logins")
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		for _, p := range pending {
			fmt.Fprintf(tw, "%s\t%s", p.LinkCode, p.CreatedAt.Format(time.RFC3339))
			if p.KioskID != "" || len(p.Choices) > 0 {
				fmt.Fprintf(tw, "\t%s\t%s\t%s\tpick one of %s", p.KioskID, p.Office, p.Procedure, strings.Join(p.Choices, " "))
			}
			fmt.Fprintln(tw)
		}
		return tw.Flush()

	case "approve":
		if *citizen == "" {
			return errors.New("phone approve: --citizen is required")
		}
		if *link != "" && *latest {
			return errors.New("phone approve: give --link or --latest, not both")
		}
		if *number == "" {
			return errors.New("phone approve: --number is required: the number the kiosk screen shows")
		}
		code := *link
		if code == "" {
			var pending []pendingLogin
			if err := ph.get(ctx, "/pending", &pending); err != nil {
				return err
			}
			if len(pending) == 0 {
				return errors.New("phone approve: no pending login to approve")
			}
			code = pending[0].LinkCode
		}
		body, err := json.Marshal(map[string]string{"linkCode": code, "citizenId": *citizen, "number": *number})
		if err != nil {
			return err
		}
		if err := ph.do(ctx, http.MethodPost, "/approve", bytes.NewReader(body), nil); err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "approved login %s\n", code)
		return err

	case "inbox":
		if *citizen == "" {
			return errors.New("phone inbox: --citizen is required")
		}
		var msgs []inboxMessage
		if err := ph.get(ctx, "/inbox?"+url.Values{"citizen": {*citizen}}.Encode(), &msgs); err != nil {
			return err
		}
		if len(msgs) == 0 {
			_, err := fmt.Fprintln(stdout, "inbox empty")
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		for _, m := range msgs {
			fmt.Fprintf(tw, "%s\t%s\n", m.At.Format(time.RFC3339), m.Text)
		}
		return tw.Flush()

	default:
		return fmt.Errorf("phone: unknown action %q: want pending, approve or inbox", action)
	}
}

// phone is a tiny client of the portal's simulated citizen phone.
type phone struct {
	base  string // portal + /phone/api
	hc    *http.Client
	token string // the portal's admin token
}

func (p phone) get(ctx context.Context, path string, out any) error {
	return p.do(ctx, http.MethodGet, path, nil, out)
}

func (p phone) do(ctx context.Context, method, path string, body io.Reader, out any) error {
	if p.token == "" {
		return errors.New("phone: the portal's admin token is needed: --admin-token-file FILE or $GOVKIOSK_ADMIN_TOKEN")
	}
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, body)
	if err != nil {
		return fmt.Errorf("phone: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := p.hc.Do(req)
	if err != nil {
		return fmt.Errorf("phone: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("phone: %s %s: read answer: %w", method, req.URL.Path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("phone: %s %s: %s: %s", method, req.URL.Path, resp.Status, errorText(b))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("phone: %s %s: decode answer: %w", method, req.URL.Path, err)
	}
	return nil
}

// errorText picks the message out of an error body: the portal's api.Error
// or the IdP's OAuth-style {"error","error_description"}, else the raw text.
func errorText(b []byte) string {
	var e struct {
		api.Error
		OAuthError  string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(b, &e) == nil {
		for _, s := range []string{e.Message, e.Description, e.OAuthError, e.Code} {
			if s != "" {
				return s
			}
		}
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
