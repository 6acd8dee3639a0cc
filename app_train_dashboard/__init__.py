"""Analytics dashboard: compare a run's custom CNN and transfer models. Reads artifacts only."""
