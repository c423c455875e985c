package io.streamdetour.relay;

/** North carries client to remote, south remote to client; each is echoed on its own stream. */
public enum Direction { NORTH, SOUTH }
