"""Agent presence actions: queue sign-in/out and pause/unpause (see hotline.api.presence)."""
