package portal_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"govkiosk/backend-client/api"
	"govkiosk/portal"
)

// rawConfirm asks for a code without the client, to see the answer's
// Retry-After header and error body as sent.
func rawConfirm(t *testing.T, e *env, access string) (int, http.Header, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(api.ConfirmationRequest{ProcedureID: "marital-status", KioskID: e.kid})
	req, _ := http.NewRequest("POST", e.url+api.PathConfirmations, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, resp.Header, body
}

func (f *fakeIdentity) deliveredTo(citizenID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.delivered[citizenID])
}

// TestConfirmationRateLimits is the attack the kiosk allowed: 20 code
// requests and 80 wrong guesses in 3 seconds, each new challenge giving
// five more tries and one more message to the citizen's phone.
func TestConfirmationRateLimits(t *testing.T) {
	ctx := context.Background()

	t.Run("20 codes in 3 s", func(t *testing.T) {
		e := newEnv(t, func(o *portal.Options) { o.RateLimits = portal.DefaultRateLimits })
		const citizen = "049090001234"
		refused := 0
		for range 20 {
			_, err := e.kiosk.RequestConfirmation(ctx, "tok-an", api.ConfirmationRequest{ProcedureID: "marital-status"})
			if st, code := apiCode(err); st == 429 && code == "rate-limited" {
				refused++
			} else if err != nil {
				t.Fatal(err)
			}
			e.clk.Add(150 * time.Millisecond)
		}
		if n := e.id.deliveredTo(citizen); n != 1 || refused != 19 {
			t.Errorf("%d codes sent to the phone, %d requests refused with 429; want 1 and 19", n, refused)
		}
		st, hdr, body := rawConfirm(t, e, "tok-an")
		ra, _ := strconv.Atoi(hdr.Get("Retry-After"))
		if st != 429 || ra <= 0 || ra > 60 || body["reason"] != "code-gap" || body["retryAfter"] != float64(ra) {
			t.Errorf("answer %d, Retry-After %q, body %v; want 429, the seconds to wait, reason code-gap", st, hdr.Get("Retry-After"), body)
		}
		// After the gap a new code may be sent, up to the citizen's quota.
		e.clk.Add(time.Minute)
		if _, err := e.kiosk.RequestConfirmation(ctx, "tok-an", api.ConfirmationRequest{ProcedureID: "marital-status"}); err != nil {
			t.Errorf("a code after the gap: %v", err)
		}
		e.clk.Add(time.Minute)
		if _, err := e.kiosk.RequestConfirmation(ctx, "tok-an", api.ConfirmationRequest{ProcedureID: "marital-status"}); err != nil {
			t.Errorf("a third code after the gap: %v", err)
		}
		e.clk.Add(time.Minute)
		if st, _, body := rawConfirm(t, e, "tok-an"); st != 429 || body["reason"] != "citizen-codes" {
			t.Errorf("a fourth code within 15 minutes: %d %v, want 429 citizen-codes", st, body)
		}
	})

	t.Run("80 wrong guesses", func(t *testing.T) {
		// The attacker waits out the gap between codes, so every challenge
		// brings five fresh tries.
		e := newEnv(t, func(o *portal.Options) { o.RateLimits = portal.DefaultRateLimits })
		checked, limited := 0, 0
		var ch api.ConfirmationChallenge
		left := 0
		for i := range 80 {
			if i%5 == 0 {
				e.clk.Add(61 * time.Second)
				next, err := e.kiosk.RequestConfirmation(ctx, "tok-somchai", api.ConfirmationRequest{ProcedureID: "marital-status"})
				if st, _ := apiCode(err); err != nil && st != 429 {
					t.Fatal(err)
				}
				if err == nil { // else guess on at the old challenge
					ch, left = next, next.Attempts
				}
			}
			res, err := e.kiosk.VerifyConfirmation(ctx, "tok-somchai", api.ConfirmationVerify{ID: ch.ID, Code: fmt.Sprintf("%06d", i), ReviewDigest: strings.Repeat("ab", 32)})
			switch st, code := apiCode(err); {
			case st == 429 && code == "rate-limited":
				limited++
			case err == nil && (res.OK || res.AttemptsLeft < left): // the portal compared the code
				checked++
				left = res.AttemptsLeft
			}
		}
		if checked > 10 || limited == 0 {
			t.Errorf("the portal checked %d guesses of one citizen (%d refused with 429); at most 10", checked, limited)
		}
		// Locked out: even a new code is refused, saying why.
		e.clk.Add(2 * time.Minute)
		if st, _, body := rawConfirm(t, e, "tok-somchai"); st != 429 || body["reason"] != "citizen-wrong-codes" {
			t.Errorf("a code after 10 wrong guesses: %d %v, want 429 citizen-wrong-codes", st, body)
		}
	})

	t.Run("one kiosk, many citizens", func(t *testing.T) {
		e := newEnv(t, func(o *portal.Options) { o.RateLimits = portal.DefaultRateLimits })
		sent, refused := 0, 0
		for i := range 40 {
			tok := fmt.Sprintf("tok-%d", i)
			e.id.tokens[tok] = portal.Citizen{ID: fmt.Sprintf("0490900%05d", i)}
			_, err := e.kiosk.RequestConfirmation(ctx, tok, api.ConfirmationRequest{ProcedureID: "marital-status"})
			switch st, code := apiCode(err); {
			case err == nil:
				sent++
			case st == 429 && code == "rate-limited":
				refused++
			default:
				t.Fatal(err)
			}
			e.clk.Add(10 * time.Second)
		}
		if sent > 30 || refused == 0 {
			t.Errorf("one kiosk sent %d codes to 40 citizens in under 7 minutes (%d refused); at most 30", sent, refused)
		}
	})
}
