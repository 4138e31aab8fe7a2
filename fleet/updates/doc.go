// Package updates is the fleet's side of kiosk updates: a TUF repository of
// signed release bundles (built with go-tuf/v2's metadata API), served by
// any static file server (Repo.Handler is http.FileServer), and the planner
// of staged rollouts (Next). The kiosk's side, and the format of bundles and
// release metadata they share, is govkiosk/kiosk/update.
//
// # Roles and keys
//
// Four roles, one Ed25519 key each (threshold 1):
//
//   - root: offline. Generated on an air-gapped machine and kept there (or
//     in a hardware token), used only to create the repository, to rotate
//     the online keys (RotateOnlineKeys) and to re-sign the root before it
//     expires (yearly). Its public part reaches kiosks at provisioning
//     (the root.json kioskctl pins); every later root is signed by the one
//     before, so kiosks follow rotations by themselves.
//   - targets: online, on the release machine. Signs which bundles exist,
//     their hashes and their custom metadata: version, minimum version,
//     architecture and the rollout stage. Every wave change re-signs it.
//   - snapshot and timestamp: online, on the repository host. The timestamp
//     expires after a day; RefreshTimestamp must run more often than that
//     (a timer), or kiosks stop trusting the repository: that is what makes
//     a freeze attack visible.
//
// Rotation: a leaked online key is replaced by RotateOnlineKeys with the
// offline root key: the new root version revokes the old keys and names new
// ones, and the repository re-publishes everything under them. Kiosks
// refuse metadata signed by a revoked key from their next refresh on. A
// leaked root key needs a new root signed by it and the new one (the chain
// still verifies) and an inquiry: this is why it stays offline.
//
// Keys on disk are PKCS#8 PEM files (WriteKey, ReadKey), mode 0600; the
// publish command reads them from a directory holding root.key,
// targets.key, snapshot.key and timestamp.key (root.key only for init and
// rotate).
//
// # Layout served
//
//	1.root.json, 2.root.json, …, root.json
//	N.targets.json, N.snapshot.json (consistent snapshots)
//	timestamp.json
//	targets/<sha256>.govkiosk-<version>-<arch>.tar.zst
//
// # Staged rollouts
//
// A release's Rollout (percent, salt, halted, maintenance window) is signed
// into its target metadata. A kiosk is in a wave when
// update.Bucket(kioskID, salt) < percent×100, a pure function both sides
// compute. Next turns a Plan (waves with soak times, a halt threshold on
// the share of kiosks that rolled back, a completion share to advance) and
// the kiosks' reported versions and update states into the next stage; the
// fleet re-signs targets when Decision.Changed. A halted rollout stays
// halted until a person acts (publish a fixed release, or set the stage by
// hand).
package updates
