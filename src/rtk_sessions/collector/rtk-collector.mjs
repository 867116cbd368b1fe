// ES module entry: loads the classic script (it sets globalThis.RTKCollector) and re-exports it.
import "./rtk-collector.js";

export const RTKCollector = globalThis.RTKCollector;
export default RTKCollector;
