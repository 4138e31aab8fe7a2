// Package alerting ships the fleet's Prometheus alert rules (rules.yml,
// unit-tested in rules_test.yml with promtool) and its Alertmanager
// configuration (alertmanager.yml), embedded so the fleet service and
// packaging can write them out, and tested against the real engines.
package alerting

import (
	_ "embed"
)

// Rules is rules.yml: the alert rules over the fleet exporter's series.
//
//go:embed rules.yml
var Rules []byte

// AlertmanagerConfig is alertmanager.yml: grouping by province and office,
// device alerts inhibited while their kiosk is offline.
//
//go:embed alertmanager.yml
var AlertmanagerConfig []byte
