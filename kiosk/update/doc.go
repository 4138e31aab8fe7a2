// Package update keeps the kiosk's software current: it reads signed
// release metadata from the fleet's TUF repository (go-tuf/v2), downloads
// the release bundle in the background within a bandwidth cap and only
// while no citizen is in a session, installs it beside the running release
// (A/B), switches to it, restarts through systemd, and commits the new
// release only when it passes its health checks; otherwise it switches back
// by itself and reports the failed version.
//
// # On-disk layout (the contract with the Debian package)
//
// Under the root (Options.Root; /var/lib/govkiosk on the appliance, the
// same directory as the kiosk's data):
//
//	releases/<version>/kiosk         one directory per installed release: the
//	releases/<version>/kioskctl      binaries and the bundle's manifest.json
//	releases/<version>/manifest.json
//	current -> releases/<version>    the active release (a relative symlink)
//	update/state.json                the updater's state (below)
//	update/tuf/root.json, …          trusted TUF metadata; root.json pinned at provisioning
//	update/download/<sha256>.partial a bundle being downloaded
//
// The systemd unit runs /var/lib/govkiosk/current/kiosk. The package
// installs its own binaries as the first release, releases/<its version>/,
// and points current at it; kioskctl is reached the same way
// (/var/lib/govkiosk/current/kioskctl, or a /usr/bin link to it). Everything
// else under the root (kiosk.json, the outbox, heartbeat sequence, device
// keys) belongs to the kiosk and is never touched by a switch.
//
// The switch is atomic: a new symlink .current.next is made beside current
// and renamed over it, then the directory is fsynced, so after a crash or
// power cut current names either the old release or the new one, both
// complete (a release directory is unpacked under a temporary name, checked
// against its manifest and renamed into place).
//
// # State machine (update/state.json)
//
//	committed ──Install──► pending ──start of Trial──► trial ──checks pass──► committed
//	                          │                          │
//	                          │ old version starts       ├─checks fail or time out──► rolledBack
//	                          ▼ (switch cut short)       └─more than MaxBoots starts──► rolledBack
//	                      committed (old)
//
// Install unpacks the verified bundle, writes pending (Version: the running
// release, Trial: the new one), switches current and calls Options.Restart
// (by default by returning ErrRestart: the kiosk exits and systemd starts
// current/kiosk again). Start, called first thing by every start, counts
// the starts of the trial version (Boots) before anything else can fail, so
// a version that crashes before it can check itself is rolled back after
// MaxBoots starts; then Boot (the beginning of Run) runs every
// Check (self-test, UI serves, portal and fleet reachable) until each passes
// or CheckBound runs out. A pass commits; a failure writes rolledBack
// (Failed, Reason), switches current back and restarts. A rolled-back
// version is not offered again; a newer one is. Shutdown during the checks
// is no verdict: the next start checks again (and counts).
//
// The state file carries a format marker ("format"); a kiosk reads every
// older format and refuses a newer one rather than guess.
//
// # What is trusted
//
// Only what the repository's keys signed. go-tuf checks the chain of roots
// from the pinned one, and refuses metadata that is badly signed (tampered),
// older than what the kiosk has seen (rollback) or expired (freeze: the
// timestamp role expires within a day, so a repository an attacker holds
// still stops offering anything quickly; the reference time is
// Options.Clock). A bundle is installed only after its length and every
// signed hash match, then its manifest is checked file by file. The rollout
// stage (who may take a release, and when) is part of the signed target
// metadata (Release.Rollout): a kiosk computes its own Bucket from its id,
// so an attacker without the targets key cannot push a version to a kiosk,
// only withhold one. The release's MinVersion and Arch must match too.
//
// # Download
//
// The partial file is named by the bundle's signed SHA-256 and grows with
// HTTP Range requests: a cut connection or a restart continues from the
// bytes kept. A token bucket (golang.org/x/time/rate) caps the rate at
// Options.BytesPerSecond. Options.Busy is asked before the request and
// before every 32 KiB: a session stops the download (ErrBusy) and it
// resumes when the kiosk is idle. A download that receives nothing for
// Options.Stall is cut; metadata requests have Options.MetadataTimeout.
// A file that does not verify is deleted and fetched again from zero.
package update
