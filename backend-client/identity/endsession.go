package identity

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// EndSession ends the citizen's session at the provider, for the kiosk's
// finish, cancel and idle timeout: it revokes the access token at the
// provider's revocation endpoint (RFC 7009) when discovery offers one, and
// drops the tokens id held (AccessToken and the ID token are cleared, even
// when revocation fails). A nil id or one without tokens is a no-op. An
// error wraps ErrProviderDown; the kiosk should log it and wipe anyway.
//
// RP-initiated logout needs the kiosk browser (the provider's session
// cookie lives there): see LogoutURL, to be called before EndSession.
func (c *Client) EndSession(ctx context.Context, id *Identity) error {
	if id == nil {
		return nil
	}
	tok := id.AccessToken
	id.AccessToken, id.idToken = "", ""
	if tok == "" {
		return nil
	}
	prov, err := c.discover(ctx)
	if err != nil {
		return err
	}
	if prov.md.RevocationURL == "" {
		c.log.Info("identity session ended; provider offers no revocation")
		return nil
	}
	status, e, err := c.post(ctx, prov, prov.md.RevocationURL, url.Values{"token": {tok}, "token_type_hint": {"access_token"}}, nil)
	if err != nil {
		return fmt.Errorf("identity: revocation: %w", err)
	}
	// RFC 7009 §2.2: 200 whether or not the token was still valid.
	if status != http.StatusOK {
		return fmt.Errorf("%w: revocation refused: %d %s", ErrProviderDown, status, e.Code)
	}
	c.log.Info("identity session ended; access token revoked")
	return nil
}

// LogoutURL returns the provider's RP-initiated logout URL for id (OpenID
// Connect RP-Initiated Logout 1.0), for the kiosk browser to visit before
// the session is wiped, and false when the provider offers none or id has
// no ID token (it was already ended). It does no network I/O beyond
// discovery.
func (c *Client) LogoutURL(ctx context.Context, id *Identity) (string, bool) {
	if id == nil || id.idToken == "" {
		return "", false
	}
	prov, err := c.discover(ctx)
	if err != nil || prov.md.EndSessionURL == "" {
		return "", false
	}
	q := url.Values{"id_token_hint": {id.idToken}, "client_id": {c.cfg.ClientID}}
	if c.cfg.PostLogoutRedirectURL != "" {
		q.Set("post_logout_redirect_uri", c.cfg.PostLogoutRedirectURL)
	}
	return withQuery(prov.md.EndSessionURL, q), true
}
