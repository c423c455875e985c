package io.streamdetour;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The server's command line as {@code bin/stream-detour} runs it (with the JVM options Hazelcast
 * asks for and the production logging config), from the test classpath: the jar is built after
 * the tests.
 */
public final class ServerCommand {

  private ServerCommand() {}

  public static List<String> of(List<String> args) {
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    command.addAll(List.of(System.getProperty("hazelcast.jvm.args", "").trim().split("\\s+")));
    command.removeIf(String::isEmpty);
    command.addAll(List.of(
        // Sessions on stdout, the operational log at INFO on stderr.
        "-Dlogback.configurationFile=" + Path.of("target", "classes", "logback.xml").toAbsolutePath(),
        "-cp", System.getProperty("java.class.path"), StreamDetourMain.class.getName()));
    command.addAll(args);
    return command;
  }
}
