// Package mosquitto ships the production broker's configuration for the
// fleet (mosquitto.conf and acl, installed under /etc/mosquitto); tests
// start Debian's mosquitto with exactly these settings on a private port.
package mosquitto

import _ "embed"

// Conf is mosquitto.conf.
//
//go:embed mosquitto.conf
var Conf string

// ACL is the acl file.
//
//go:embed acl
var ACL string
