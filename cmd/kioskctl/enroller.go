package main

import (
	"crypto"
	"net/http"

	backendclient "govkiosk/backend-client"
	"govkiosk/provisioning"
)

// newEnroller is the real portal client; tests replace it.
var newEnroller = func(portalURL string, hc *http.Client, key crypto.Signer) provisioning.Enroller {
	return backendclient.New(portalURL, hc, "", key) // no kiosk ID before enrollment
}
