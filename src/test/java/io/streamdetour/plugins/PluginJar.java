package io.streamdetour.plugins;

import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;

/** Plugin jars made at test time: sources compiled by the running JDK's compiler against the test class path. */
final class PluginJar {

  private PluginJar() {}

  /** Compiles a Maven-layout project's {@code src/main/java} and jars the classes with {@code src/main/resources}. */
  static Path build(Path project, Path jar) throws IOException {
    Path classes = Files.createTempDirectory("plugin-classes");
    JavaCompiler compiler = ToolProvider.getSystemJavaCompiler();
    DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
    try (StandardJavaFileManager files = compiler.getStandardFileManager(diagnostics, null, StandardCharsets.UTF_8);
        Stream<Path> walk = Files.walk(project.resolve("src/main/java"))) {
      List<Path> sources = walk.filter(p -> p.toString().endsWith(".java")).toList();
      boolean ok = compiler.getTask(null, files, diagnostics,
          List.of("--release", "21", "-classpath", System.getProperty("java.class.path"), "-d", classes.toString()),
          null, files.getJavaFileObjectsFromPaths(sources)).call();
      if (!ok) {
        throw new IllegalStateException("the plugin does not compile: " + diagnostics.getDiagnostics());
      }
    }
    try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar))) {
      add(out, classes);
      Path resources = project.resolve("src/main/resources");
      if (Files.isDirectory(resources)) {
        add(out, resources);
      }
    }
    return jar;
  }

  /** A jar of exactly these entries (name to text). */
  static Path of(Path jar, Map<String, String> entries) throws IOException {
    try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar))) {
      for (Map.Entry<String, String> entry : entries.entrySet()) {
        out.putNextEntry(new JarEntry(entry.getKey()));
        out.write(entry.getValue().getBytes(StandardCharsets.UTF_8));
        out.closeEntry();
      }
    }
    return jar;
  }

  private static void add(JarOutputStream out, Path root) throws IOException {
    try (Stream<Path> walk = Files.walk(root)) {
      for (Path file : walk.filter(Files::isRegularFile).sorted().toList()) {
        out.putNextEntry(new JarEntry(root.relativize(file).toString().replace('\\', '/')));
        out.write(Files.readAllBytes(file));
        out.closeEntry();
      }
    }
  }
}
