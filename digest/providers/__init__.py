"""Exchange-rate providers: one small module per source, each turning a payload into observations."""
