package io.streamdetour;

import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A small tmpfs a test fills up or mounts read-only (mounting needs root; without it the test is
 * skipped). Unmount it before the directory it is mounted on is deleted.
 */
public final class Tmpfs {

  private final Path path;

  private Tmpfs(Path path) {
    this.path = path;
  }

  /** Mounts a tmpfs with {@code options} (such as {@code size=64k} or {@code ro,size=64k}) on a new directory. */
  public static Tmpfs mount(Path mountPoint, String options) throws Exception {
    Files.createDirectory(mountPoint);
    Assumptions.assumeTrue(run("mount", "-t", "tmpfs", "-o", options, "tmpfs", mountPoint.toString()) == 0,
        "mounting a tmpfs needs root");
    return new Tmpfs(mountPoint);
  }

  public Path path() {
    return path;
  }

  /**
   * Unmounts it. Busy means a file on it is still open (a leak, or a test that left a session
   * running): it is detached anyway.
   *
   * @return false when it was busy
   */
  public boolean unmount() throws Exception {
    if (run("umount", path.toString()) == 0) {
      return true;
    }
    run("umount", "-l", path.toString());
    return false;
  }

  private static int run(String... command) throws Exception {
    Process process = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.INHERIT).start();
    assertThat(process.waitFor(30, TimeUnit.SECONDS)).as("%s finished", List.of(command)).isTrue();
    return process.exitValue();
  }
}
