package io.streamdetour.relay;

import io.streamdetour.codec.NorthHeader;

/** Makes the inspector of one session; registered under a name that config refers to. */
@FunctionalInterface
public interface InspectorFactory {

  Inspector create(NorthHeader session);
}
