package dev.allot;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;

import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideOutsideOfPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

/**
 * The package layering, checked at build time over the production classes. Top to bottom, nothing
 * imports upward:
 * <pre>
 *   dev.allot          Main, AllotServer, Demo: wiring only
 *   dev.allot.http     routes, auth, problem documents
 *   dev.allot.stream   the live stream     dev.allot.outbound   the change feed, the outbox relay
 *   dev.allot.stock    the rules
 *   dev.allot.store    the only code knowing Redis keys, scripts and return codes
 *   dev.allot.config   settings
 *   dev.allot.common   tiny shared bits
 * </pre>
 */
@AnalyzeClasses(packages = "dev.allot", importOptions = ImportOption.DoNotIncludeTests.class)
class LayeringTest {
  private static final String ROOT = "dev.allot";
  private static final String HTTP = "dev.allot.http..";
  private static final String STREAM = "dev.allot.stream..";
  private static final String OUTBOUND = "dev.allot.outbound..";
  private static final String STOCK = "dev.allot.stock..";
  private static final String STORE = "dev.allot.store..";
  private static final String CONFIG = "dev.allot.config..";
  private static final String COMMON = "dev.allot.common..";

  @ArchTest
  static final ArchRule httpNeverUsesTheStore = noClasses().that().resideInAPackage(HTTP)
      .should().dependOnClassesThat().resideInAPackage(STORE)
      .because("routes speak to the rules (stock), never to Redis keys, scripts or return codes");

  @ArchTest
  static final ArchRule stockKnowsNoHttpNorStream = noClasses().that().resideInAPackage(STOCK)
      .should().dependOnClassesThat().resideInAnyPackage(HTTP, STREAM, OUTBOUND)
      .because("the rules sit below the routes, the live stream and the outbound events that use them");

  @ArchTest
  static final ArchRule storeKnowsNothingAboveIt = noClasses().that().resideInAPackage(STORE)
      .should().dependOnClassesThat().resideInAnyPackage(STOCK, STREAM, OUTBOUND, HTTP)
      .because("the store is the bottom of the stock truth: Redis, keys and scripts, no rules");

  @ArchTest
  static final ArchRule configDependsOnNoOtherAllotPackage = noClasses().that().resideInAPackage(CONFIG)
      .should().dependOnClassesThat(resideInAPackage("dev.allot..").and(resideOutsideOfPackage(CONFIG)))
      .because("settings are read by every layer and so may use none of them");

  @ArchTest
  static final ArchRule commonDependsOnNoOtherAllotPackage = noClasses().that().resideInAPackage(COMMON)
      .should().dependOnClassesThat(resideInAPackage("dev.allot..").and(resideOutsideOfPackage(COMMON)))
      .because("the shared bits are used by every layer and so may use none of them");

  @ArchTest
  static final ArchRule nothingUsesTheWiring = noClasses()
      .that().resideInAnyPackage(HTTP, STREAM, OUTBOUND, STOCK, STORE, CONFIG, COMMON)
      .should().dependOnClassesThat().resideInAPackage(ROOT)
      .because("the root package (Main, AllotServer, Demo) only wires the layers together");

  /** The whole order above at once: each layer used only by the layers above it. */
  @ArchTest
  static final ArchRule nothingImportsUpward = layeredArchitecture().consideringOnlyDependenciesInLayers()
      .layer("wiring").definedBy(ROOT)
      .layer("http").definedBy(HTTP)
      .layer("stream").definedBy(STREAM)
      .layer("outbound").definedBy(OUTBOUND)
      .layer("stock").definedBy(STOCK)
      .layer("store").definedBy(STORE)
      .layer("config").definedBy(CONFIG)
      .layer("common").definedBy(COMMON)
      .whereLayer("wiring").mayNotBeAccessedByAnyLayer()
      .whereLayer("http").mayOnlyBeAccessedByLayers("wiring")
      .whereLayer("stream").mayOnlyBeAccessedByLayers("wiring", "http")
      .whereLayer("outbound").mayOnlyBeAccessedByLayers("wiring", "http")
      .whereLayer("stock").mayOnlyBeAccessedByLayers("wiring", "http", "stream", "outbound")
      // http reaches the store only through stock or outbound (httpNeverUsesTheStore says why).
      .whereLayer("store").mayOnlyBeAccessedByLayers("wiring", "stream", "outbound", "stock")
      .whereLayer("config").mayOnlyBeAccessedByLayers("wiring", "http", "stream", "outbound", "stock", "store")
      .whereLayer("common").mayOnlyBeAccessedByLayers("wiring", "http", "stream", "outbound", "stock", "store",
          "config");

  @ArchTest
  static final ArchRule noPackageCycles = slices().matching("dev.allot.(*)..")
      .should().beFreeOfCycles();
}
