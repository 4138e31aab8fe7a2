// Package provisioning gives a kiosk its identity and checks its hardware:
// the device key (created once, never leaves the data directory), enrollment
// with the portal's CA, the stored configuration, and the self-test report a
// technician reads after installing or replacing a part. Both the kiosk and
// the technician's kioskctl use it.
package provisioning
