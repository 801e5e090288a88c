export {
  createLoadBook,
  type BookingChange,
  type BookingChangeKind,
  type BookingId,
  type BookingListener,
  type BookingLoad,
  type LoadBook,
  type LoadBookOptions,
  type LoadFigures,
  type WorkerLoad,
  type WorkerReport,
} from './load-book.ts';
