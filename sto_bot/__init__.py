"""STO-assistent core: channel-agnostic, never imports telegram."""
