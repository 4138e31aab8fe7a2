package kiosk

// SetVoiceVolume keeps the volume level (1 and up; the UI bounds it) the
// citizen chose for voice guidance, for the rest of the session, at any
// step.
func (c *Controller) SetVoiceVolume(level int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked()
	c.s.voiceVolume = max(level, 1)
}
