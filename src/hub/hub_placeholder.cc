// placeholder until the hub client lands
