"""web/ui."""
