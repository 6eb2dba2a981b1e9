"""The reinforcement-learning core: DroQ agent, networks, replay, training loop, config,
the training view of the environment and the DroQ policy."""
