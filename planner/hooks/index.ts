export { createDecisionBoard, type DecisionBoard } from './board.ts';
export { createDirectScaler, loadKubeConfig, type DirectScaler, type DirectScalerOptions } from './direct.ts';
export { startPlannerHttpServer, type PlannerHttpServer } from './http-server.ts';
export { createKedaHandlers, kedaMetricName } from './keda.ts';
export { createPlannerRegistry } from './metrics.ts';
