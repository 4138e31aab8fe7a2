package backendclient

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"govkiosk/backend-client/api"
	"govkiosk/drivers/device"
)

// schemaBlock returns the text of components.schemas.<name> in openapi.yaml.
func schemaBlock(t *testing.T, doc, name string) string {
	t.Helper()
	i := strings.Index(doc, "\n  schemas:\n")
	if i < 0 {
		t.Fatal("openapi.yaml has no components.schemas")
	}
	doc = doc[i:]
	start := strings.Index(doc, "\n    "+name+":\n")
	if start < 0 {
		t.Fatalf("openapi.yaml has no schema %s", name)
	}
	rest := doc[start+1:]
	next := regexp.MustCompile(`\n    [A-Za-z]+:\n`).FindStringIndex(rest[1:])
	if next == nil {
		return rest
	}
	return rest[:next[0]+1]
}

// TestOpenAPIMatchesTypes guards against drift between openapi.yaml and the
// Go contract: every path is described, and every JSON field of every wire
// type is a property of its schema.
func TestOpenAPIMatchesTypes(t *testing.T) {
	b, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	if !strings.HasPrefix(doc, "openapi: 3.1.") {
		t.Error("not OpenAPI 3.1")
	}
	for _, p := range []string{api.PathCatalogue, api.PathEnroll, api.PathHeartbeat, api.PathConfirmations,
		api.PathVerify, api.PathApplications, api.PathStatus + "{ref}", api.PathTrack + "{ref}",
		PathUploads, PathUploads + "{id}", PathPackets + "{packetId}/finalise",
		api.PathRenew, api.PathDecommission, api.PathCRL, api.PathAdminEnrollTokens,
		api.PathAdminKiosks + "{id}/revoke", api.PathAdminKiosks + "{id}/retire"} {
		if !strings.Contains(doc, "\n  "+p+":\n") {
			t.Errorf("path %s not described", p)
		}
	}
	for _, h := range []string{api.HeaderIdempotencyKey, api.HeaderKioskID, api.HeaderKioskSignature} {
		if !strings.Contains(doc, "name: "+h+"\n") {
			t.Errorf("header %s not described", h)
		}
	}
	for name, v := range map[string]any{
		"Field": api.Field{}, "Option": api.Option{}, "DocumentRequirement": api.DocumentRequirement{},
		"Condition": api.Condition{}, "RegistryDocument": api.RegistryDocument{}, "Registry": api.Registry{}, "Office": api.Office{},
		"Procedure": api.Procedure{}, "Catalogue": api.Catalogue{}, "SignedCatalogue": api.SignedCatalogue{},
		"EnrollRequest": api.EnrollRequest{}, "EnrollResponse": api.EnrollResponse{}, "Heartbeat": api.Heartbeat{},
		"DeviceStatus": device.Status{}, "ConfirmationRequest": api.ConfirmationRequest{},
		"ConfirmationChallenge": api.ConfirmationChallenge{}, "ConfirmationVerify": api.ConfirmationVerify{},
		"ConfirmationResult": api.ConfirmationResult{}, "Applicant": api.Applicant{}, "DocumentRef": api.DocumentRef{},
		"Manifest": api.Manifest{}, "SubmitResult": api.SubmitResult{}, "ApplicationStatus": api.ApplicationStatus{},
		"Error": api.Error{}, "FinaliseRequest": api.FinaliseRequest{},
		"SignedAcknowledgement": api.SignedAcknowledgement{}, "Acknowledgement": api.Acknowledgement{},
		"EnrollTokenRequest": api.EnrollTokenRequest{}, "EnrollTokenResponse": api.EnrollTokenResponse{},
		"RenewRequest": api.RenewRequest{}, "RenewResponse": api.RenewResponse{},
		"DecommissionRequest": api.DecommissionRequest{}, "RevokeRequest": api.RevokeRequest{},
	} {
		block := schemaBlock(t, doc, name)
		rt := reflect.TypeOf(v)
		var props []string
		for i := 0; i < rt.NumField(); i++ {
			tag := strings.Split(rt.Field(i).Tag.Get("json"), ",")[0]
			if tag == "" || tag == "-" {
				continue
			}
			props = append(props, tag)
			if !strings.Contains(block, "\n        "+tag+":") {
				t.Errorf("schema %s lacks property %s", name, tag)
			}
		}
		// And nothing the Go type does not have.
		for _, m := range regexp.MustCompile(`\n        ([A-Za-z0-9]+):`).FindAllStringSubmatch(block, -1) {
			found := false
			for _, p := range props {
				found = found || p == m[1]
			}
			if !found {
				t.Errorf("schema %s has property %s that %T lacks", name, m[1], v)
			}
		}
	}
}
